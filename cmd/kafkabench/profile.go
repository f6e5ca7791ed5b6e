package main

import (
	"context"
	"os"
	"runtime/pprof"

	_ "github.com/weirsql/weir/connectors/all"
	wsql "github.com/weirsql/weir/sql"
	"github.com/weirsql/weir/sql/types"
)

type discard struct{}

func (discard) Columns([]types.Column, bool) error { return nil }
func (discard) Rows(*types.Batch) error            { return nil }
func (discard) Done() error                        { return nil }
func (discard) Message(string) error               { return nil }

// profileQ0 runs q0 in this process at parallelism 1 under the CPU
// profiler ('weir run' has no profiling flag).
func profileQ0(path, addr, in, out string, partitions int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	script := "SET parallelism = '1';\n" + sourceDDL(addr, in, false) + sinkDDL("q0", addr, out, partitions) +
		"INSERT INTO out_q0 SELECT auction, bidder, price, channel, url, date_time, extra FROM bid;\n"
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	err = wsql.NewSession().ExecScript(context.Background(), script, discard{})
	pprof.StopCPUProfile()
	return err
}
