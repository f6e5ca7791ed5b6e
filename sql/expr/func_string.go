package expr

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/weirsql/weir/sql/types"
)

// maxStringResult bounds what LPAD/RPAD/REPEAT may build (bytes).
const maxStringResult = 16 << 20

func init() {
	str1 := []argClass{argStr}
	strFn := func(f func(string) string) func(string) Impl {
		return func(string) Impl {
			return func(a []types.Value) (types.Value, error) { return types.StringValue(f(a[0].S)), nil }
		}
	}
	fnSimple([]string{"LOWER", "LCASE"}, "(VARCHAR)", types.TVarchar, 1, 1, str1, strFn(toLower))
	fnSimple([]string{"UPPER", "UCASE"}, "(VARCHAR)", types.TVarchar, 1, 1, str1, strFn(toUpper))
	fnSimple([]string{"REVERSE"}, "(VARCHAR)", types.TVarchar, 1, 1, str1, strFn(reverseString))
	fnSimple([]string{"CHAR_LENGTH", "CHARACTER_LENGTH"}, "(VARCHAR)", types.TBigInt, 1, 1, []argClass{argAny}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.BigIntValue(int64(utf8.RuneCountInString(argString(a[0])))), nil
		}
	})
	fnSimple([]string{"LENGTH", "OCTET_LENGTH"}, "(VARCHAR)", types.TBigInt, 1, 1, []argClass{argAny}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.BigIntValue(int64(len(argString(a[0])))), nil
		}
	})
	fnSimple([]string{"SUBSTRING", "SUBSTR"}, "(VARCHAR, INT[, INT])", types.TVarchar, 2, 3, []argClass{argStr, argInt, argInt}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			n, hasLen := int64(0), len(a) == 3
			if hasLen {
				n = argInt64(a[2])
			}
			return types.StringValue(substring(a[0].S, argInt64(a[1]), n, hasLen)), nil
		}
	})
	fnSimple([]string{"LEFT"}, "(VARCHAR, INT)", types.TVarchar, 2, 2, []argClass{argStr, argInt}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			n := argInt64(a[1])
			if n <= 0 {
				return types.StringValue(""), nil
			}
			return types.StringValue(substring(a[0].S, 1, n, true)), nil
		}
	})
	fnSimple([]string{"RIGHT"}, "(VARCHAR, INT)", types.TVarchar, 2, 2, []argClass{argStr, argInt}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			s, n := a[0].S, argInt64(a[1])
			if n <= 0 {
				return types.StringValue(""), nil
			}
			c := int64(utf8.RuneCountInString(s))
			if n >= c {
				return types.StringValue(s), nil
			}
			return types.StringValue(s[runeOffset(s, c-n):]), nil
		}
	})
	fnRegister([]string{"CONCAT"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) < 1 {
			return types.Type{}, nil, fnSigError(name, "(ANY[, ANY...])", args)
		}
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			if len(a) == 1 {
				return types.StringValue(argString(a[0])), nil
			}
			var b strings.Builder
			for _, v := range a {
				b.WriteString(argString(v))
			}
			return types.StringValue(b.String()), nil
		}, nil
	})
	fnRegister([]string{"CONCAT_WS"}, true, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if len(args) < 2 {
			return types.Type{}, nil, fnSigError(name, "(VARCHAR separator, ANY[, ANY...])", args)
		}
		if !argStr.accepts(args[0]) {
			return types.Type{}, nil, fnSigError(name, "(VARCHAR separator, ANY[, ANY...])", args)
		}
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			if a[0].Kind == types.Null {
				return types.NullValue, nil
			}
			var b strings.Builder
			first := true
			for _, v := range a[1:] {
				if v.Kind == types.Null {
					continue
				}
				if !first {
					b.WriteString(a[0].S)
				}
				first = false
				b.WriteString(argString(v))
			}
			return types.StringValue(b.String()), nil
		}, nil
	})
	fnSimple([]string{"REPLACE"}, "(VARCHAR, VARCHAR, VARCHAR)", types.TVarchar, 3, 3, str1, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			if a[1].S == "" {
				return a[0], nil
			}
			return types.StringValue(strings.ReplaceAll(a[0].S, a[1].S, a[2].S)), nil
		}
	})
	trim := func(names []string, left, right bool) {
		fnSimple(names, "(VARCHAR[, VARCHAR remstr])", types.TVarchar, 1, 2, str1, func(string) Impl {
			return func(a []types.Value) (types.Value, error) {
				rem := " "
				if len(a) == 2 {
					rem = a[1].S
				}
				return types.StringValue(trimString(a[0].S, rem, left, right)), nil
			}
		})
	}
	trim([]string{"TRIM"}, true, true)
	trim([]string{"LTRIM"}, true, false)
	trim([]string{"RTRIM"}, false, true)
	pad := func(names []string, left bool) {
		fnSimple(names, "(VARCHAR, INT, VARCHAR)", types.TVarchar, 3, 3, []argClass{argStr, argInt, argStr}, func(name string) Impl {
			return func(a []types.Value) (types.Value, error) {
				return padString(name, a[0].S, argInt64(a[1]), a[2].S, left)
			}
		})
	}
	pad([]string{"LPAD"}, true)
	pad([]string{"RPAD"}, false)
	fnSimple([]string{"REPEAT"}, "(VARCHAR, INT)", types.TVarchar, 2, 2, []argClass{argStr, argInt}, func(name string) Impl {
		return func(a []types.Value) (types.Value, error) {
			n := argInt64(a[1])
			if n <= 0 || a[0].S == "" {
				return types.StringValue(""), nil
			}
			if n > maxStringResult/int64(len(a[0].S)) {
				return types.NullValue, fmt.Errorf("%s: result longer than %d bytes", name, maxStringResult)
			}
			return types.StringValue(strings.Repeat(a[0].S, int(n))), nil
		}
	})
	// POSITION(substr IN str) reaches us as POSITION(substr, str).
	fnSimple([]string{"POSITION"}, "(VARCHAR substr, VARCHAR str)", types.TBigInt, 2, 2, str1, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.BigIntValue(locate(a[0].S, a[1].S, 1)), nil
		}
	})
	fnSimple([]string{"LOCATE"}, "(VARCHAR substr, VARCHAR str[, INT pos])", types.TBigInt, 2, 3, []argClass{argStr, argStr, argInt}, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			pos := int64(1)
			if len(a) == 3 {
				pos = argInt64(a[2])
			}
			return types.BigIntValue(locate(a[0].S, a[1].S, pos)), nil
		}
	})
	fnSimple([]string{"INSTR"}, "(VARCHAR str, VARCHAR substr)", types.TBigInt, 2, 2, str1, func(string) Impl {
		return func(a []types.Value) (types.Value, error) {
			return types.BigIntValue(locate(a[1].S, a[0].S, 1)), nil
		}
	})
	fnRegister([]string{"SPLIT_INDEX"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR, VARCHAR delimiter, INT index)", args, 3, 3, argStr, argStr, argInt); err != nil {
			return types.Type{}, nil, err
		}
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			s, ok := splitIndex(a[0].S, a[1].S, argInt64(a[2]))
			if !ok {
				return types.NullValue, nil
			}
			return types.StringValue(s), nil
		}, nil
	})
	fnRegister([]string{"REGEXP_LIKE", "REGEXP", "RLIKE"}, false, false, resolveRegexpLike)
	fnRegister([]string{"REGEXP_REPLACE"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR, VARCHAR pattern, VARCHAR replacement)", args, 3, 3, argStr); err != nil {
			return types.Type{}, nil, err
		}
		var memo siteMemo[*regexp.Regexp]
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			re, err := memo.get(a[1].S, &regexpCache, compileRegexpKey)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			return types.StringValue(re.ReplaceAllString(a[0].S, a[2].S)), nil
		}, nil
	})
	fnRegister([]string{"REGEXP_EXTRACT"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR, VARCHAR pattern[, INT group])", args, 2, 3, argStr, argStr, argInt); err != nil {
			return types.Type{}, nil, err
		}
		var memo siteMemo[*regexp.Regexp]
		return types.TVarchar, func(a []types.Value) (types.Value, error) {
			re, err := memo.get(a[1].S, &regexpCache, compileRegexpKey)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			g := int64(0)
			if len(a) == 3 {
				g = argInt64(a[2])
			}
			if g < 0 || g > int64(re.NumSubexp()) {
				return types.NullValue, nil
			}
			m := re.FindStringSubmatchIndex(a[0].S)
			if m == nil || m[2*g] < 0 {
				return types.NullValue, nil
			}
			return types.StringValue(a[0].S[m[2*g]:m[2*g+1]]), nil
		}, nil
	})
	fnRegister([]string{"LIKE"}, false, false, func(name string, args []types.Type) (types.Type, Impl, error) {
		if err := fnCheckArgs(name, "(VARCHAR, VARCHAR pattern[, VARCHAR escape])", args, 2, 3, argStr); err != nil {
			return types.Type{}, nil, err
		}
		var memo atomic.Pointer[likeMatcher] // this call site's first pattern
		return types.TBool, func(a []types.Value) (types.Value, error) {
			esc := "\\"
			if len(a) == 3 {
				esc = a[2].S
				if utf8.RuneCountInString(esc) > 1 {
					return types.NullValue, fmt.Errorf("%s: ESCAPE must be a single character, got %s", name, LiteralString(a[2]))
				}
			}
			m := memo.Load()
			if m == nil || m.pat != a[1].S || m.esc != esc {
				m, _ = likeCache.get(esc+"\x00"+a[1].S, compileLikeKey)
				memo.CompareAndSwap(nil, m)
			}
			return types.BoolValue(m.match(a[0].S)), nil
		}, nil
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func toLower(s string) string {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'A' && c <= 'Z' {
				b := []byte(s)
				for j := i; j < len(b); j++ {
					if b[j] >= 'A' && b[j] <= 'Z' {
						b[j] += 'a' - 'A'
					}
				}
				return string(b)
			}
		}
		return s
	}
	return strings.ToLower(s)
}

func toUpper(s string) string {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'a' && c <= 'z' {
				b := []byte(s)
				for j := i; j < len(b); j++ {
					if b[j] >= 'a' && b[j] <= 'z' {
						b[j] -= 'a' - 'A'
					}
				}
				return string(b)
			}
		}
		return s
	}
	return strings.ToUpper(s)
}

func reverseString(s string) string {
	b := make([]byte, len(s))
	j := len(s)
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		j -= n
		copy(b[j:], s[i:i+n])
		i += n
	}
	return string(b)
}

// runeOffset is the byte offset of character n (0-based) of s, or len(s).
func runeOffset(s string, n int64) int {
	if n <= 0 {
		return 0
	}
	if isASCII(s) {
		if n >= int64(len(s)) {
			return len(s)
		}
		return int(n)
	}
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return i
}

// substring is MySQL's SUBSTRING: 1-based character positions, a negative
// start counts from the end, start 0 or beyond either end gives the empty string.
func substring(s string, pos, n int64, hasLen bool) string {
	if pos == 0 || (hasLen && n <= 0) {
		return ""
	}
	count := int64(len(s))
	if !isASCII(s) {
		count = int64(utf8.RuneCountInString(s))
	}
	if pos < 0 {
		pos += count + 1
		if pos < 1 {
			return ""
		}
	}
	if pos > count {
		return ""
	}
	start := pos - 1
	end := count
	if hasLen && n < end-start {
		end = start + n
	}
	b := runeOffset(s, start)
	e := b + runeOffset(s[b:], end-start)
	return s[b:e]
}

// locate is LOCATE(sub, s, pos): the 1-based character position of the
// first sub at or after character pos, 0 when absent.
func locate(sub, s string, pos int64) int64 {
	if pos < 1 {
		return 0
	}
	count := int64(utf8.RuneCountInString(s))
	if pos > count+1 {
		return 0
	}
	off := runeOffset(s, pos-1)
	i := strings.Index(s[off:], sub)
	if i < 0 {
		return 0
	}
	return pos + int64(utf8.RuneCountInString(s[off:off+i]))
}

func trimString(s, rem string, left, right bool) string {
	if rem == "" {
		return s
	}
	if left {
		for strings.HasPrefix(s, rem) {
			s = s[len(rem):]
		}
	}
	if right {
		for strings.HasSuffix(s, rem) {
			s = s[:len(s)-len(rem)]
		}
	}
	return s
}

// padString is LPAD/RPAD: pad to n characters, or cut to n when longer;
// NULL for a negative n or an empty pad that would be needed.
func padString(name, s string, n int64, pad string, left bool) (types.Value, error) {
	if n < 0 {
		return types.NullValue, nil
	}
	c := int64(utf8.RuneCountInString(s))
	if n <= c {
		return types.StringValue(s[:runeOffset(s, n)]), nil
	}
	if pad == "" {
		return types.NullValue, nil
	}
	need := n - c
	pc := int64(utf8.RuneCountInString(pad))
	if need > maxStringResult || need*int64(len(pad))/pc+int64(len(s)) > maxStringResult {
		return types.NullValue, fmt.Errorf("%s: result longer than %d bytes", name, maxStringResult)
	}
	var b strings.Builder
	b.Grow(len(s) + int(need)*len(pad)/int(pc) + len(pad))
	if !left {
		b.WriteString(s)
	}
	for need >= pc {
		b.WriteString(pad)
		need -= pc
	}
	b.WriteString(pad[:runeOffset(pad, need)])
	if left {
		b.WriteString(s)
	}
	return types.StringValue(b.String()), nil
}

// splitIndex is Flink's SPLIT_INDEX: the index-th (0-based) field of s
// split at every occurrence of delim (an empty delim splits at each
// whitespace character); false when out of range or s is empty.
func splitIndex(s, delim string, index int64) (string, bool) {
	if index < 0 || s == "" {
		return "", false
	}
	for {
		var i, w int
		if delim == "" {
			i = strings.IndexFunc(s, unicode.IsSpace)
			if i >= 0 {
				_, w = utf8.DecodeRuneInString(s[i:])
			}
		} else {
			i, w = strings.Index(s, delim), len(delim)
		}
		if i < 0 {
			if index == 0 {
				return s, true
			}
			return "", false
		}
		if index == 0 {
			return s[:i], true
		}
		s = s[i+w:]
		index--
	}
}

// ---- regular expressions ----

var regexpCache patternCache[*regexp.Regexp]

func compileRegexpKey(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %s: %v", LiteralString(types.StringValue(p)), regexpReason(err))
	}
	return re, nil
}

func regexpReason(err error) string {
	if e, ok := err.(*syntax.Error); ok {
		return string(e.Code)
	}
	return err.Error()
}

// CompileRegexp compiles a pattern the way the REGEXP functions do (Go RE2
// syntax), through the shared cache. The binder may call it on constant
// patterns to report a bad pattern at bind time instead of per row.
func CompileRegexp(pattern string) (*regexp.Regexp, error) {
	return regexpCache.get(pattern, compileRegexpKey)
}

func resolveRegexpLike(name string, args []types.Type) (types.Type, Impl, error) {
	if err := fnCheckArgs(name, "(VARCHAR, VARCHAR pattern[, VARCHAR match_type])", args, 2, 3, argStr); err != nil {
		return types.Type{}, nil, err
	}
	var memo siteMemo[*regexp.Regexp]
	return types.TBool, func(a []types.Value) (types.Value, error) {
		p := a[1].S
		if len(a) == 3 {
			flags, err := regexpFlags(a[2].S)
			if err != nil {
				return types.NullValue, fmt.Errorf("%s: %w", name, err)
			}
			p = flags + p
		}
		re, err := memo.get(p, &regexpCache, compileRegexpKey)
		if err != nil {
			return types.NullValue, fmt.Errorf("%s: %w", name, err)
		}
		return types.BoolValue(re.MatchString(a[0].S)), nil
	}, nil
}

// regexpFlags turns MySQL's match_type letters into an RE2 flag group.
func regexpFlags(mt string) (string, error) {
	ci, multi, dotall := false, false, false
	for _, c := range mt {
		switch c {
		case 'c':
			ci = false
		case 'i':
			ci = true
		case 'm':
			multi = true
		case 'n':
			dotall = true
		case 'u':
		default:
			return "", fmt.Errorf("invalid match_type %s", LiteralString(types.StringValue(mt)))
		}
	}
	f := ""
	if ci {
		f += "i"
	}
	if multi {
		f += "m"
	}
	if dotall {
		f += "s"
	}
	if f == "" {
		return "", nil
	}
	return "(?" + f + ")", nil
}

// ---- LIKE ----

var likeCache patternCache[*likeMatcher]

type likeKind uint8

const (
	likeExact likeKind = iota
	likePrefix
	likeSuffix
	likeContains
	likeAll // "%": anything
	likeGeneral
)

// likeTok is one pattern element: a literal run, '_' (one character) or '%'.
type likeTok struct {
	lit  string
	kind uint8 // 0 literal, 1 one char, 2 any run
}

type likeMatcher struct {
	pat, esc string // what it was compiled from
	kind     likeKind
	lit      string
	toks     []likeTok
}

// compileLikeKey compiles "escape\x00pattern".
func compileLikeKey(key string) (*likeMatcher, error) {
	i := strings.IndexByte(key, 0)
	return compileLike(key[i+1:], key[:i]), nil
}

// compileLike parses a LIKE pattern with the given escape character (empty:
// none). An escape at the very end of the pattern stands for itself.
func compileLike(p, esc string) *likeMatcher {
	var toks []likeTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, likeTok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		r, w := utf8.DecodeRuneInString(p[i:])
		switch {
		case esc != "" && strings.HasPrefix(p[i:], esc) && i+len(esc) < len(p):
			_, w2 := utf8.DecodeRuneInString(p[i+len(esc):])
			lit.WriteString(p[i+len(esc) : i+len(esc)+w2])
			i += len(esc) + w2
			continue
		case r == '%':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != 2 {
				toks = append(toks, likeTok{kind: 2})
			}
		case r == '_':
			flush()
			toks = append(toks, likeTok{kind: 1})
		default:
			lit.WriteString(p[i : i+w])
		}
		i += w
	}
	flush()
	m := &likeMatcher{pat: p, esc: esc, kind: likeGeneral, toks: toks}
	switch {
	case len(toks) == 0:
		m.kind = likeExact
	case len(toks) == 1 && toks[0].kind == 0:
		m.kind, m.lit = likeExact, toks[0].lit
	case len(toks) == 1 && toks[0].kind == 2:
		m.kind = likeAll
	case len(toks) == 2 && toks[0].kind == 0 && toks[1].kind == 2:
		m.kind, m.lit = likePrefix, toks[0].lit
	case len(toks) == 2 && toks[0].kind == 2 && toks[1].kind == 0:
		m.kind, m.lit = likeSuffix, toks[1].lit
	case len(toks) == 3 && toks[0].kind == 2 && toks[1].kind == 0 && toks[2].kind == 2:
		m.kind, m.lit = likeContains, toks[1].lit
	}
	return m
}

func (m *likeMatcher) match(s string) bool {
	switch m.kind {
	case likeExact:
		return s == m.lit
	case likePrefix:
		return strings.HasPrefix(s, m.lit)
	case likeSuffix:
		return strings.HasSuffix(s, m.lit)
	case likeContains:
		return strings.Contains(s, m.lit)
	case likeAll:
		return true
	}
	// Greedy matching with backtracking to the last '%' only: linear in
	// practice, and correct because a later '%' subsumes earlier choices.
	toks := m.toks
	pi, si := 0, 0
	starP, starS := -1, 0
	for pi < len(toks) || si < len(s) {
		if pi < len(toks) {
			t := toks[pi]
			switch t.kind {
			case 2:
				starP, starS = pi, si
				pi++
				continue
			case 1:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					pi++
					continue
				}
			default:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					pi++
					continue
				}
			}
		}
		if starP >= 0 && starS < len(s) {
			_, w := utf8.DecodeRuneInString(s[starS:])
			starS += w
			si, pi = starS, starP+1
			continue
		}
		return false
	}
	return true
}

// MatchLike reports whether s matches the LIKE pattern with the given
// escape character ("" for none; LIKE's default is a backslash).
func MatchLike(s, pattern, escape string) bool {
	m, _ := likeCache.get(escape+"\x00"+pattern, compileLikeKey)
	return m.match(s)
}
