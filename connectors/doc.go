// Package connectors holds the registry of table connectors and the Table
// description they are built from. Each connector lives in a sub-package
// (file, nexmark, datagen, print, blackhole) that registers itself in init;
// package connectors/all imports them all for the binary and tests.
package connectors
