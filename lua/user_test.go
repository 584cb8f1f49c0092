package lua

import (
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

func TestResolveUser(t *testing.T) {
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("user nobody does not exist")
	}
	nobodyUID, _ := strconv.Atoi(nobody.Uid)
	tests := []struct {
		name    string
		user    string
		euid    int
		wantNil bool
		wantUID int
		wantErr string
	}{
		{name: "empty", user: "", euid: 0, wantNil: true},
		{name: "blank", user: "  ", euid: 1000, wantNil: true},
		{name: "root may switch", user: "nobody", euid: 0, wantUID: nobodyUID},
		{name: "numeric uid", user: nobody.Uid, euid: 0, wantUID: nobodyUID},
		{name: "own user", user: "nobody", euid: nobodyUID, wantUID: nobodyUID},
		{name: "unknown", user: "towerhook_no_such_user", euid: 0, wantErr: `run_as: unknown user "towerhook_no_such_user"`},
		{name: "unknown numeric", user: "4000000001", euid: 0, wantErr: `run_as: unknown user "4000000001"`},
		{name: "not root", user: "nobody", euid: 4000000002,
			wantErr: `run_as: user "nobody" requires towerhook to run as root (it runs as "4000000002")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := userResolve(tt.user, tt.euid)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if c != nil {
					t.Fatalf("credential %+v with an error", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.wantNil {
				if c != nil {
					t.Fatalf("got %+v, want nil", c)
				}
				return
			}
			if c == nil || int(c.UID) != tt.wantUID || c.Username != "nobody" {
				t.Fatalf("got %+v, want nobody uid %d", c, tt.wantUID)
			}
			if c.Home != nobody.HomeDir || strconv.Itoa(int(c.GID)) != nobody.Gid || len(c.Groups) == 0 {
				t.Fatalf("got %+v, want home %q gid %s and groups", c, nobody.HomeDir, nobody.Gid)
			}
		})
	}
}

// TestResolveUserNotRoot checks the load-time error through the public
// function; it can only apply when the test does not run as root.
func TestResolveUserNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: covered by TestResolveUser via userResolve")
	}
	if _, err := user.Lookup("root"); err != nil {
		t.Skip("no root user entry")
	}
	_, err := ResolveUser("root")
	if err == nil || !strings.Contains(err.Error(), `run_as: user "root" requires towerhook to run as root (it runs as "`) {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveUserSelf(t *testing.T) {
	self := userSelf()
	if _, err := user.LookupId(strconv.Itoa(os.Geteuid())); err != nil {
		t.Skip("the current uid has no passwd entry")
	}
	c, err := ResolveUser(self.Username)
	if err != nil {
		t.Fatalf("ResolveUser(own user %q): %v", self.Username, err)
	}
	if int(c.UID) != os.Geteuid() || c.Home != self.Home {
		t.Fatalf("got %+v, self %+v", c, self)
	}
}
