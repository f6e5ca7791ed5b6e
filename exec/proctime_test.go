package exec

import (
	"reflect"
	"testing"

	"github.com/weirsql/weir/sql/types"
)

func TestProcTimeWindowFiresOnTheClock(t *testing.T) {
	inner, err := NewWindowAgg(WindowAggConfig{
		Keys:   []int{0},
		Aggs:   []AggCall{{Kind: AggCountStar, Arg: -1}},
		Window: WindowSpec{Kind: WindowTumble, TimeCol: 1, Size: 1000},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := int64(500)
	p := &ProcTimeWindow{Inner: inner, Now: func() int64 { return now }}
	out := &aggCollector{}
	row := func(k string, pt int64) types.Row { return types.Row{types.StringValue(k), types.TimestampValue(pt)} }

	if err := p.Process(0, &types.Batch{Rows: []types.Row{row("a", 100), row("a", 400), row("b", 450)}}, out); err != nil {
		t.Fatal(err)
	}
	// an event-time watermark from upstream must not fire processing-time windows
	if err := p.OnWatermark(5000, out); err != nil {
		t.Fatal(err)
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("fired before the clock passed the window: %v", got)
	}
	// no input, the clock moves past the window end: the tick fires it
	now = 1000
	if err := p.OnTick(out); err != nil {
		t.Fatal(err)
	}
	want := []string{"+I a,0,1000,2", "+I b,0,1000,1"}
	if got := out.take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after tick: %v, want %v", got, want)
	}
	// a clock that goes back does not move the window's time back
	now = 900
	if err := p.Process(0, &types.Batch{Rows: []types.Row{row("a", 1200)}}, out); err != nil {
		t.Fatal(err)
	}
	if err := p.OnTick(out); err != nil {
		t.Fatal(err)
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("fired early: %v", got)
	}
	// end of input fires the rest
	if err := p.OnWatermark(MaxWatermark, out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.take(), []string{"+I a,1000,2000,1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("at end: %v, want %v", got, want)
	}
}
