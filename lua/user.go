package lua

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// Credential is a resolved OS user for subprocesses.
type Credential struct {
	// Username is the login name (USER and LOGNAME in the child's environment).
	Username string
	// UID and GID are the numeric user and primary group ids.
	UID, GID uint32
	// Groups are the supplementary group ids (the primary group included).
	Groups []uint32
	// Home is the home directory (HOME in the child's environment).
	Home string
}

// ResolveUser looks up an OS user (name or numeric uid) for run_as and checks
// that the daemon may switch to it: the daemon runs as root, or name is the
// daemon's own user. It is meant for load time.
//
// Errors: `run_as: unknown user "x"`, and when the daemon is not root and name
// is another user, `run_as: user "x" requires towerhook to run as root (it runs
// as "y")`. An empty name returns nil, nil (the daemon's own user).
func ResolveUser(name string) (*Credential, error) {
	return userResolve(name, os.Geteuid())
}

// userResolve is ResolveUser with the daemon's effective uid as a parameter,
// so that the non-root rule can be tested while running as root.
func userResolve(name string, euid int) (*Credential, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, nil
	}
	u, err := userLookup(name)
	if err != nil {
		return nil, err
	}
	cred, err := userCredential(u)
	if err != nil {
		return nil, err
	}
	if euid != 0 && int64(cred.UID) != int64(euid) {
		return nil, fmt.Errorf("run_as: user %q requires towerhook to run as root (it runs as %q)", name, userNameOf(euid))
	}
	return cred, nil
}

// userLookup finds name as a login name, then as a numeric uid.
func userLookup(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	var unknown user.UnknownUserError
	if !errors.As(err, &unknown) {
		return nil, fmt.Errorf("run_as: cannot look up user %q: %v", name, err)
	}
	if _, perr := strconv.ParseUint(name, 10, 32); perr == nil {
		u, err = user.LookupId(name)
		if err == nil {
			return u, nil
		}
		var unknownID user.UnknownUserIdError
		if !errors.As(err, &unknownID) {
			return nil, fmt.Errorf("run_as: cannot look up user %q: %v", name, err)
		}
	}
	return nil, fmt.Errorf("run_as: unknown user %q", name)
}

// userCredential converts a looked-up user into a Credential.
func userCredential(u *user.User) (*Credential, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run_as: user %q has a non-numeric uid %q", u.Username, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run_as: user %q has a non-numeric gid %q", u.Username, u.Gid)
	}
	cred := &Credential{
		Username: u.Username,
		UID:      uint32(uid),
		GID:      uint32(gid),
		Home:     u.HomeDir,
	}
	ids, err := u.GroupIds()
	if err == nil {
		for _, s := range ids {
			g, perr := strconv.ParseUint(s, 10, 32)
			if perr == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	if len(cred.Groups) == 0 {
		cred.Groups = []uint32{cred.GID}
	}
	return cred, nil
}

// userNameOf names uid for messages: its login name, else the number.
func userNameOf(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(uid)
}

// userSelf describes the daemon's own user, used for the child's HOME, USER
// and LOGNAME when no Credential is given.
func userSelf() Credential {
	uid := os.Geteuid()
	self := Credential{UID: uint32(uid), GID: uint32(os.Getegid()), Username: strconv.Itoa(uid), Home: "/"}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if u.Username != "" {
			self.Username = u.Username
		}
		if u.HomeDir != "" {
			self.Home = u.HomeDir
		}
	}
	return self
}
