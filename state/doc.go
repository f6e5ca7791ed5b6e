// Package state will hold Weir's keyed operator state over Badger (one DB
// per process, managed mode, version = checkpoint epoch; DESIGN §5). It is
// built in issue #4; until then operators keep their state in memory,
// organised per key so it can move here unchanged.
package state
