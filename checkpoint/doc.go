// Package checkpoint will hold the Chandy-Lamport checkpoint coordinator,
// barrier alignment, checkpoint storage, restore and savepoints (DESIGN §6).
// It is built in issue #4; the runtime's message type already carries
// barriers (exec.MsgBarrier).
package checkpoint
