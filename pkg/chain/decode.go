package chain

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxDecodedValues caps how many YAML values one chain file may decode to,
// counting each alias expansion again. A real chain file has a few hundred;
// a "billion laughs" file of nested aliases hits the cap at once.
const maxDecodedValues = 50_000

// position is where a key and its value sit in the file.
type position struct {
	keyLine, keyCol int
	line, col       int
	null            bool // the key is present with no value
}

// nodeDecoder is implemented by types whose YAML shape is not a plain
// struct, list or scalar.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// decoder walks a yaml.Node tree into Go values by their yaml tags,
// recording where each field came from and every problem on the way.
// yaml.v3's own Decode stops at the first error and reports no columns,
// which lint needs.
type decoder struct {
	problems []Problem
	pos      map[string]position
	bad      map[string]bool // fields whose value had the wrong shape
	budget   int
	overrun  bool
	// secret is the path of the secret field being decoded, "" outside
	// one. Under it nothing the file says is quoted or put in a path: a
	// secret written in the wrong shape (secret: {s3cr3t}) is still a
	// secret.
	secret string
}

func newDecoder() *decoder {
	return &decoder{pos: map[string]position{}, bad: map[string]bool{}, budget: maxDecodedValues}
}

func (d *decoder) errorAt(n *yaml.Node, path, fix, format string, args ...any) {
	if d.secret != "" {
		// The secret field is reported; validation does not also call it
		// missing or say it names no source.
		d.bad[d.secret] = true
	}
	d.problems = append(d.problems, Problem{Line: n.Line, Col: n.Column, Path: path, Message: fmt.Sprintf(format, args...), Fix: fix})
}

// typeError reports a value of the wrong shape and marks the field so that
// validation does not also call it missing.
func (d *decoder) typeError(n *yaml.Node, path, want, fix string) {
	d.bad[path] = true
	d.errorAt(n, path, fix, "%s must be %s, got %s", displayPath(path), want, describeNode(n))
}

// enter follows an alias and spends budget; it returns nil when the walk
// must stop.
func (d *decoder) enter(n *yaml.Node, path string) *yaml.Node {
	d.budget--
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil
		}
		if d.budget < 0 {
			// Only aliases are refused once over budget: plain values are
			// bounded by the file size, so the rest of the file still gets
			// checked.
			d.bad[path] = true
			if !d.overrun {
				d.overrun = true
				d.errorAt(n, path, "write the values out instead of nesting aliases", "YAML aliases expand to more than %d values", maxDecodedValues)
			}
			return nil
		}
		n = n.Alias
	}
	if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		d.bad[path] = true
		if d.secret != "" {
			d.errorAt(n, path, "remove the tag; YAML reads a value that starts with ! as a tag, so quote such a value", "a YAML tag is not supported in %s", d.secret)
		} else {
			d.errorAt(n, path, "remove the tag", "YAML tag %s is not supported", n.Tag)
		}
		return nil
	}
	switch n.ShortTag() {
	case "!!binary", "!!merge":
		d.bad[path] = true
		d.errorAt(n, path, "remove the tag", "YAML tag %s is not supported", n.ShortTag())
		return nil
	}
	return n
}

var durationType = reflect.TypeOf(time.Duration(0))

// decodeValue decodes n into v. A null value leaves v as it is, so it reads
// as "not given".
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path string) {
	if holdsSecret(v.Type()) {
		// From the field's own node on: a tag on it is the file's text too.
		defer d.underSecret(path)()
	}
	if n = d.enter(n, path); n == nil {
		return
	}
	if v.CanAddr() {
		addr := v.Addr()
		if addr.Type() == reflect.TypeFor[*[]CookieExpectation]() {
			addr = addr.Convert(reflect.TypeFor[*cookieExpectations]())
		}
		if nd, ok := addr.Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n, path)
			return
		}
	}
	if isNull(n) {
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct && v.IsNil() {
			v.Set(reflect.New(v.Type().Elem())) // "memory:" alone selects the memory store
		}
		return
	}
	if v.Type() == durationType {
		d.decodeDuration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decodeValue(n, v.Elem(), path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.typeError(n, path, "a string", d.quoteFix(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			fix := ""
			if n.ShortTag() == "!!str" {
				fix = "YAML 1.2 reads yes, no, on and off as strings; write true or false"
			}
			d.typeError(n, path, "true or false", fix)
			return
		}
		v.SetBool(b)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			fix := ""
			if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				fix = "remove the quotes"
			}
			d.typeError(n, path, "an integer", fix)
			return
		}
		v.SetInt(int64(i))
	case reflect.Map:
		m, ok := d.decodeAny(n, path).(map[string]any)
		if !ok {
			d.typeError(n, path, "a mapping", "")
			return
		}
		v.Set(reflect.ValueOf(m))
	default:
		// Only reachable if a field of an unsupported type is added to Chain.
		d.errorAt(n, path, "", "internal: cannot decode %s into %s", displayPath(path), v.Type())
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		fix := ""
		if n.ShortTag() == "!!int" || n.ShortTag() == "!!float" {
			fix = fmt.Sprintf("add a unit, like %ss", n.Value)
		}
		d.typeError(n, path, "a duration like 30s, 5m or 8h", fix)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.bad[path] = true
		d.errorAt(n, path, "write it like 30s, 5m or 8h", "%s %s is not a duration", displayPath(path), quote(n.Value))
		return
	}
	if dur < 0 {
		d.bad[path] = true
		d.errorAt(n, path, "durations are positive, like 30s", "%s %s is negative", displayPath(path), n.Value)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, path, "a list", "")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		d.pos[ip] = position{keyLine: item.Line, keyCol: item.Column, line: item.Line, col: item.Column, null: isNull(item)}
		d.decodeValue(item, s.Index(i), ip)
	}
	v.Set(s)
}

// mappingEntries checks a mapping's keys (plain strings, no duplicates, no
// merge keys) and returns the usable key/value pairs in file order.
func (d *decoder) mappingEntries(n *yaml.Node, path string) (keys []string, keyNodes, values []*yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.ShortTag() == "!!merge" {
			d.errorAt(k, path, "write the keys out", "merge keys (<<) are not supported")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" && k.ShortTag() != "!!int" && k.ShortTag() != "!!bool" {
			d.errorAt(k, path, "", "keys in %s must be plain strings, got %s", displayPath(path), describeNode(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			if d.secret != "" {
				d.errorAt(k, path, "remove one of them", "duplicate key in %s (first at line %d)", displayPath(path), first.Line)
			} else {
				d.errorAt(k, keyPath(path, k.Value), "remove one of them", "duplicate key %s (first at line %d)", quote(k.Value), first.Line)
			}
			continue
		}
		seen[k.Value] = k
		keys = append(keys, k.Value)
		keyNodes = append(keyNodes, k)
		values = append(values, val)
	}
	return keys, keyNodes, values
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping", "")
		return
	}
	fields := yamlFields(v.Type())
	keys, keyNodes, values := d.mappingEntries(n, path)
	for i, key := range keys {
		fp := joinPath(path, key)
		if path == "" && strings.HasPrefix(key, "x-") {
			// Extension keys, as in Compose files: a place to keep anchors.
			continue
		}
		idx, ok := fields[key]
		if !ok {
			d.unknownKey(keyNodes[i], v.Type(), path, key)
			continue
		}
		val := values[i]
		target := val
		if target.Kind == yaml.AliasNode && target.Alias != nil {
			target = target.Alias
		}
		d.pos[fp] = position{keyLine: keyNodes[i].Line, keyCol: keyNodes[i].Column, line: val.Line, col: val.Column, null: isNull(target)}
		d.decodeValue(val, v.Field(idx), fp)
	}
}

func (d *decoder) unknownKey(k *yaml.Node, t reflect.Type, path, key string) {
	where := "in " + displayPath(path)
	known := sortedKeys(yamlFields(t))
	if d.secret != "" {
		// secret: {s3cr3t} is a mapping whose key is the secret: the
		// problem names the field, never the key.
		fix := "known keys: " + strings.Join(known, ", ")
		if s := suggestKey(key, known); s != "" {
			fix = fmt.Sprintf("did you mean %q?", s)
		}
		d.errorAt(k, path, fix, "unknown key %s", where)
		return
	}
	if s := suggestKey(key, known); s != "" {
		d.bad[joinPath(path, s)] = true
		d.errorAt(k, keyPath(path, key), fmt.Sprintf("did you mean %q?", s), "unknown key %s %s", quote(key), where)
		return
	}
	// A key one level too high, like issuer.ttl for issuer.cookie.ttl.
	for _, name := range known {
		ft := t.Field(yamlFields(t)[name]).Type
		if ft.Kind() == reflect.Struct {
			if _, ok := yamlFields(ft)[key]; ok {
				d.errorAt(k, joinPath(path, key), fmt.Sprintf("did you mean %s.%s?", name, key), "unknown key %q %s", key, where)
				return
			}
		}
	}
	fix := "known keys: " + strings.Join(known, ", ")
	if path == "" {
		fix += "; start a key with x- to keep YAML anchors"
	}
	d.errorAt(k, keyPath(path, key), fix, "unknown key %s %s", quote(key), where)
}

// decodeAny decodes free-form data (identity traits) into JSON-shaped Go
// values, under the same alias budget and duplicate-key rules.
func (d *decoder) decodeAny(n *yaml.Node, path string) any {
	if n = d.enter(n, path); n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		keys, _, values := d.mappingEntries(n, path)
		for i, k := range keys {
			m[k] = d.decodeAny(values[i], keyPath(path, k))
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, item := range n.Content {
			s[i] = d.decodeAny(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return s
	case yaml.ScalarNode:
		var v any
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return n.Value
		case "!!null":
			return nil
		}
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		return v
	}
	return nil
}

// decodeNode reads {env: NAME}, {file: PATH}, or an inline scalar, which
// validation then allows only with dev: true. Nothing written under the
// field is put in a message or a problem path (see decoder.secret).
func (s *SecretRef) decodeNode(d *decoder, n *yaml.Node, path string) {
	switch {
	case isNull(n):
	case n.Kind == yaml.ScalarNode:
		s.inline, s.hasInline = n.Value, true
	case n.Kind == yaml.MappingNode:
		var ref struct {
			Env  string `yaml:"env"`
			File string `yaml:"file"`
		}
		d.decodeStruct(n, reflect.ValueOf(&ref).Elem(), path)
		s.Env, s.File = ref.Env, ref.File
	default:
		d.typeError(n, path, "{env: NAME} or {file: PATH}", "")
	}
}

// holdsSecret reports whether a field of type t is decoded as a secret
// field (see decoder.secret): a SecretRef, and store.redis, where a Redis
// URL, password and all, lands when pasted in place of the variable's name.
func holdsSecret(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t == reflect.TypeFor[SecretRef]() || t == reflect.TypeFor[RedisStore]()
}

// underSecret marks the walk as inside the secret field at path until the
// returned function runs. The outermost secret field is the one named.
func (d *decoder) underSecret(path string) (done func()) {
	if d.secret != "" {
		return func() {}
	}
	d.secret = path
	return func() { d.secret = "" }
}

// decodeNode reads expect.cookies: a mapping from host to cookie names.
func (e *cookieExpectations) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "a mapping from host to cookie names", "write it like {portal.company.com: [portal_session]}")
		return
	}
	keys, keyNodes, values := d.mappingEntries(n, path)
	for i, k := range keys {
		ip := fmt.Sprintf("%s[%d]", path, len(*e))
		d.pos[ip] = position{keyLine: keyNodes[i].Line, keyCol: keyNodes[i].Column, line: keyNodes[i].Line, col: keyNodes[i].Column}
		ce := CookieExpectation{Domain: k}
		np := ip + ".names"
		d.pos[np] = position{keyLine: values[i].Line, keyCol: values[i].Column, line: values[i].Line, col: values[i].Column}
		d.decodeValue(values[i], reflect.ValueOf(&ce.Names).Elem(), np)
		*e = append(*e, ce)
	}
}

// cookieExpectations lets Expect.Cookies have its own YAML shape while the
// field keeps the plain slice type callers use.
type cookieExpectations []CookieExpectation

// yamlFields maps a struct's yaml tag names to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		out[tag] = i
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describeNode names a node's YAML type for "got …" in messages. It does not
// show the value: the node may be a secret.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.ShortTag() {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	case "!!timestamp":
		return "a timestamp"
	case "!!str":
		return "a string"
	}
	// Not the tag's name: it is written in the file, maybe in place of a
	// secret (password: !!hunter2).
	return "a value of another YAML type"
}

// quoteFix suggests quoting a scalar that YAML read as another type, such
// as listen: 8080 or name: 2024-01-01. Under a secret field it does not
// repeat the value.
func (d *decoder) quoteFix(n *yaml.Node) string {
	switch {
	case n.Kind != yaml.ScalarNode:
		return ""
	case d.secret != "":
		return "quote it"
	}
	return "quote it: " + quote(n.Value)
}

// keyPath is the path of a key the file wrote and the chain does not know;
// a key that looks like a URL with a user:password@ part is redacted.
func keyPath(path, key string) string { return joinPath(path, redactUserinfo(key, false)) }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func displayPath(path string) string {
	if path == "" {
		return "the chain file"
	}
	return path
}

// suggestKey returns the known key closest to key, if it is close enough
// to be a typo: case and "-" vs "_" are ignored, and a transposition counts
// as one edit.
func suggestKey(key string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	k := norm(key)
	best, bestDist := "", 3
	for _, cand := range known {
		c := norm(cand)
		if c == k || strings.ReplaceAll(c, "_", "") == strings.ReplaceAll(k, "_", "") {
			return cand
		}
		limit := 2
		if len(c) <= 4 {
			limit = 1
		}
		if dist := editDistance(k, c); dist <= limit && dist < bestDist {
			best, bestDist = cand, dist
		}
	}
	return best
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
