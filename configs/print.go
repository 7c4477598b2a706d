package configs

import (
	"bytes"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Masked is what EffectiveYAML writes in place of a secret.
const Masked = "***"

// SecretKey reports whether a configuration key holds a secret that EffectiveYAML masks:
// passwords, Digest HA1 hashes, the NATS URL (it may carry a password), and any key naming a
// secret, a token or a DSN.
func SecretKey(key string) bool {
	switch key {
	case "password", "ha1", "nats_url":
		return true
	}
	for _, s := range []string{"secret", "token", "dsn"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

// EffectiveYAML writes c as a parley.yaml: every key, in the file's order, durations as
// durations, secrets (SecretKey) that are set as Masked. Loaded again it gives the same
// configuration, secrets aside.
func (c *Config) EffectiveYAML() ([]byte, error) {
	eff := *c
	eff.Rooms = make([]Room, len(c.Rooms))
	for i, r := range c.Rooms {
		h := r.HistoryOrDefault() // what a room without the key gets
		r.History = &h
		eff.Rooms[i] = r
	}
	n, err := yamlNode(reflect.ValueOf(eff), false)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var durationType = reflect.TypeOf(time.Duration(0))

func yamlNode(v reflect.Value, secret bool) (*yaml.Node, error) {
	scalar := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	if v.Type() == durationType {
		return scalar("!!str", time.Duration(v.Int()).String()), nil
	}
	switch v.Kind() {
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			val, err := yamlNode(v.Field(i), SecretKey(key))
			if err != nil {
				return nil, err
			}
			m.Content = append(m.Content, scalar("!!str", key), val)
		}
		return m, nil
	case reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			s.Style = yaml.FlowStyle
		}
		for i := 0; i < v.Len(); i++ {
			e, err := yamlNode(v.Index(i), false)
			if err != nil {
				return nil, err
			}
			s.Content = append(s.Content, e)
		}
		return s, nil
	case reflect.Pointer:
		if v.IsNil() {
			return scalar("!!null", "null"), nil
		}
		return yamlNode(v.Elem(), secret)
	case reflect.String:
		if secret && v.String() != "" {
			return scalar("!!str", Masked), nil
		}
		return scalar("!!str", v.String()), nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil {
		return nil, err
	}
	return n, nil
}
