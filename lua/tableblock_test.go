package lua

import (
	"fmt"
	"strings"
	"testing"
)

// TestTableBlocks: decoded objects and arrays of every block size (and
// beyond) hold their members, grow, iterate and dump like any table.
func TestTableBlocks(t *testing.T) {
	e := testEngine(t, Options{PoolSize: 1})
	for n := 0; n <= 18; n++ {
		var obj, arr []string
		for i := 1; i <= n; i++ {
			obj = append(obj, fmt.Sprintf(`"k%02d":"v%d"`, i, i))
			if i%2 == 0 {
				arr = append(arr, fmt.Sprintf(`"s%d"`, i))
			} else {
				arr = append(arr, fmt.Sprint(i))
			}
		}
		doc := `{"obj":{` + strings.Join(obj, ",") + `},"arr":[` + strings.Join(arr, ",") + `]}`
		code := fmt.Sprintf(`
local n = %d
local d = json.loads(%q)
local count = 0
for k, v in pairs(d.obj) do
  assert(v == "v" .. tonumber(string.sub(k, 2)), k)
  count = count + 1
end
assert(count == n, "members " .. count)
assert(#d.arr == n, "elements " .. #d.arr)
for i = 1, n do
  local want = (i %% 2 == 0) and ("s" .. i) or i
  assert(d.arr[i] == want, "element " .. i)
end
-- Growing past the block: new keys and elements, then iteration again.
for i = 1, 20 do d.obj["x" .. i] = i; table.insert(d.arr, "y" .. i) end
count = 0
for k in pairs(d.obj) do count = count + 1 end
assert(count == n + 20, "after growth " .. count)
assert(#d.arr == n + 20 and d.arr[n + 20] == "y20")
d.obj.x1 = nil
assert(d.obj.x1 == nil and d.obj.x2 == 2)
assert(json.loads(json.dumps(d)).obj.x20 == 20)
result = {exit_code = 0}`, n, doc)
		if r := run(t, e, KindWebhook, code, nil); r.Err != nil || r.ExitCode != 0 {
			t.Fatalf("n=%d: %v", n, r.Err)
		}
	}
}
