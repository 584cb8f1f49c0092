//go:build !linux

package lua

import "context"

// awaitExit is a no-op where pidfds do not exist: Wait blocks instead.
func awaitExit(ctx context.Context, pid int) {}
