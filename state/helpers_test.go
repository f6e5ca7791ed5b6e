package state

import "github.com/dgraph-io/badger/v4"

func badgerIterOpts() badger.IteratorOptions { return badger.DefaultIteratorOptions }
