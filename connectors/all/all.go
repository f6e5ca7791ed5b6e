// Package all registers every connector: the binary and end-to-end tests
// import it for its side effects.
//
//	import _ "github.com/weirsql/weir/connectors/all"
package all

import (
	_ "github.com/weirsql/weir/connectors/blackhole"
	_ "github.com/weirsql/weir/connectors/datagen"
	_ "github.com/weirsql/weir/connectors/file"
	_ "github.com/weirsql/weir/connectors/kafka"
	_ "github.com/weirsql/weir/connectors/nexmark"
	_ "github.com/weirsql/weir/connectors/print"
)
