package definitions

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzDecode(f *testing.F) {
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("a: &a [*a]\nrecords: *a\n"))
	f.Add([]byte("records:\n- &r {cetmix_tower_model: webhook, authenticator_id: *r}\n"))
	f.Add([]byte("records:\n- cetmix_tower_model: webhook_authenticator\n  name: x\n  code: \"#!cxtower.secret.a!# ]]\"\n"))
	d := &decoder{secrets: newSecretResolver(Options{Environ: []string{"TOWERHOOK_SECRET_A=\x00\"\\"}, AllowMissingSecrets: true})}
	f.Fuzz(func(t *testing.T, data []byte) {
		res := d.decodeFile("f.yaml", data)
		var recs []*rawRecord
		for _, r := range res.records {
			recs = append(recs, r)
			if r.nested != nil {
				recs = append(recs, r.nested)
			}
		}
		for _, e := range res.errs {
			if e.Line < 0 || e.File != "f.yaml" {
				t.Fatalf("bad error %+v", e)
			}
		}
		for _, r := range recs {
			for _, e := range r.errs {
				if e.Line < 0 || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
			}
		}
		_, _ = build([]string{"f.yaml"}, []fileResult{res})
	})
}
