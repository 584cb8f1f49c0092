package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	tests := []struct {
		name   string
		cgroup string
		files  map[string]string
		want   int64
	}{
		{"v2 limit", "0::/system.slice/towerhook.service\n",
			map[string]string{"system.slice/towerhook.service/memory.max": "536870912\n"}, 536870912},
		{"v2 max", "0::/\n", map[string]string{"memory.max": "max\n"}, 0},
		{"v2 namespaced (container)", "0::/\n", map[string]string{"memory.max": "268435456\n"}, 268435456},
		{"v1 limit", "4:memory:/docker/abc\n3:cpu:/\n",
			map[string]string{"memory/docker/abc/memory.limit_in_bytes": "1073741824\n"}, 1073741824},
		{"v1 joint controllers", "4:cpuacct,memory:/x\n", map[string]string{"memory/x/memory.limit_in_bytes": "1048576"}, 1048576},
		{"v1 unlimited", "4:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"no files", "0::/nowhere\n", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			proc := filepath.Join(dir, "cgroup")
			if err := os.WriteFile(proc, []byte(tt.cgroup), 0o600); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(dir, "fs")
			writeFiles(t, root, tt.files)
			if got := cgroupMemoryLimit(proc, root); got != tt.want {
				t.Errorf("cgroupMemoryLimit = %d, want %d", got, tt.want)
			}
		})
	}
	if got := cgroupMemoryLimit(filepath.Join(t.TempDir(), "missing"), "/"); got != 0 {
		t.Errorf("no /proc/self/cgroup: %d", got)
	}
	if got := defaultMaxMemory(1000 << 20); got != 900<<20 {
		t.Errorf("defaultMaxMemory = %d", got)
	}
}
