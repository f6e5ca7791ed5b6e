package all

import (
	"testing"

	"github.com/weirsql/weir/connectors"
)

func TestRegistered(t *testing.T) {
	for _, name := range []string{"file", "print", "blackhole", "nexmark", "datagen"} {
		if _, err := connectors.Lookup(name); err != nil {
			t.Error(err)
		}
	}
}
