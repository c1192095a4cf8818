// Package argohealth runs an Argo CD resource health check, a Lua script
// such as config/argocd/health.lua, against a Kubernetes object the way
// Argo CD's application controller runs it: in a gopher-lua state with only
// the package, base and table libraries, the object as the global obj, a
// one-second deadline, and a {status, message} table as the answer. The
// tests use it to show what Argo CD will display for the operator's objects.
package argohealth

import (
	"context"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Status is an Argo CD health status.
type Status string

// The health statuses Argo CD accepts from a script.
const (
	Healthy     Status = "Healthy"
	Progressing Status = "Progressing"
	Degraded    Status = "Degraded"
	Suspended   Status = "Suspended"
	Missing     Status = "Missing"
	Unknown     Status = "Unknown"
)

// Result is what a health script returned.
type Result struct {
	Status  Status
	Message string
}

// deadline matches the time Argo CD gives one health script.
const deadline = time.Second

// Load reads a health script from a file.
func Load(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read health script: %w", err)
	}
	return string(b), nil
}

// Evaluate runs script with obj, an object as the API server serves it
// (unstructured JSON: maps, slices, strings, bools, int64 and float64), as
// the global obj. A script that fails, returns something other than a
// table, or a status Argo CD does not know is an error.
func Evaluate(script string, obj map[string]any) (Result, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return Result{}, fmt.Errorf("open lua library %q: %w", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return Result{}, fmt.Errorf("run health script: %w", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return Result{}, fmt.Errorf("health script returned %s, want a table", l.Get(-1).Type())
	}
	res := Result{Status: Status(luaString(ret.RawGetString("status"))), Message: luaString(ret.RawGetString("message"))}
	switch res.Status {
	case Healthy, Progressing, Degraded, Suspended, Missing, Unknown:
		return res, nil
	}
	return Result{}, fmt.Errorf("health script returned status %q, which Argo CD does not know", res.Status)
}

// luaString is a string field of the returned table; nil is "".
func luaString(v lua.LValue) string {
	if v == lua.LNil {
		return ""
	}
	return v.String()
}

// toLua converts unstructured JSON to Lua values as Argo CD does: arrays
// become 1-based tables, objects keyed tables, numbers Lua numbers.
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case int64:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case float64:
		return lua.LNumber(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}
