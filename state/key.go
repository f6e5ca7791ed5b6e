package state

import (
	"encoding/binary"
	"errors"
)

// Key layout (DESIGN §5):
//
//	[operator id u32 BE][state name id u16 BE][key group u16 BE][escaped user key][namespace]
//
// The user key is escaped so that it is prefix-free and keeps its byte order:
// 0x00 becomes 0x00 0xFF and the key ends with 0x00 0x01. That makes
// "all namespaces of one key" a plain byte prefix (used for window state),
// while the namespace (for example a big-endian window end) is stored raw and
// sorts as bytes.

// prefixLen is the length of [operator][state name].
const prefixLen = 6

// groupOffset is where the key group sits in an encoded key.
const groupOffset = prefixLen

// headerLen is the length of [operator][state name][key group].
const headerLen = prefixLen + 2

var errBadKey = errors.New("state: malformed state key")

// EncodeKey appends the encoded state key to dst and returns it.
func EncodeKey(dst []byte, op uint32, stateID uint16, keyGroup uint16, key, ns []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, op)
	dst = binary.BigEndian.AppendUint16(dst, stateID)
	dst = binary.BigEndian.AppendUint16(dst, keyGroup)
	dst = appendEscaped(dst, key)
	return append(dst, ns...)
}

func appendEscaped(dst, key []byte) []byte {
	for _, b := range key {
		if b == 0 {
			dst = append(dst, 0, 0xFF)
		} else {
			dst = append(dst, b)
		}
	}
	return append(dst, 0, 1)
}

// DecodeKey splits an encoded state key. key and ns are freshly allocated
// (key) or alias k (ns).
func DecodeKey(k []byte) (op uint32, stateID uint16, keyGroup uint16, key, ns []byte, err error) {
	if len(k) < headerLen+2 {
		return 0, 0, 0, nil, nil, errBadKey
	}
	op = binary.BigEndian.Uint32(k)
	stateID = binary.BigEndian.Uint16(k[4:])
	keyGroup = binary.BigEndian.Uint16(k[groupOffset:])
	rest := k[headerLen:]
	key = make([]byte, 0, len(rest))
	for i := 0; i < len(rest); i++ {
		if rest[i] != 0 {
			key = append(key, rest[i])
			continue
		}
		if i+1 >= len(rest) {
			return 0, 0, 0, nil, nil, errBadKey
		}
		switch rest[i+1] {
		case 0xFF:
			key = append(key, 0)
			i++
		case 1:
			return op, stateID, keyGroup, key, rest[i+2:], nil
		default:
			return 0, 0, 0, nil, nil, errBadKey
		}
	}
	return 0, 0, 0, nil, nil, errBadKey
}

// KeyGroupOf returns the key group of an encoded state key.
func KeyGroupOf(k []byte) (uint16, bool) {
	if len(k) < headerLen {
		return 0, false
	}
	return binary.BigEndian.Uint16(k[groupOffset:]), true
}

// KeyGroupRange returns the contiguous key-group range [first, last] owned by
// subtask index of parallelism subtasks when there are maxKeyGroups groups
// (the same split Flink uses). A restore at a different parallelism keeps the
// groups of its new range (see Restore's keep argument).
func KeyGroupRange(maxKeyGroups, parallelism, index int) (first, last uint16) {
	start := (index*maxKeyGroups + parallelism - 1) / parallelism
	end := ((index+1)*maxKeyGroups+parallelism-1)/parallelism - 1
	return uint16(start), uint16(end)
}

// Value encoding: a flag byte, then (flag 1) an 8-byte big-endian write time
// for TTL, then the user value. The flag is the state value format version.
const (
	valPlain byte = 0
	valTimed byte = 1
)

func encodeValue(v []byte, ttl bool, now int64) []byte {
	if !ttl {
		out := make([]byte, 1+len(v))
		out[0] = valPlain
		copy(out[1:], v)
		return out
	}
	out := make([]byte, 9+len(v))
	out[0] = valTimed
	binary.BigEndian.PutUint64(out[1:], uint64(now))
	copy(out[9:], v)
	return out
}

// decodeValue returns the user value, the write time and whether it had one.
func decodeValue(b []byte) (v []byte, ts int64, timed bool, err error) {
	if len(b) < 1 {
		return nil, 0, false, errors.New("state: empty stored value")
	}
	switch b[0] {
	case valPlain:
		return b[1:], 0, false, nil
	case valTimed:
		if len(b) < 9 {
			return nil, 0, false, errors.New("state: short timed value")
		}
		return b[9:], int64(binary.BigEndian.Uint64(b[1:])), true, nil
	default:
		return nil, 0, false, errors.New("state: unknown value format")
	}
}
