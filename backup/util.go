package backup

import (
	"compress/gzip"
	"io"
	"iter"
	"maps"
)

func mapsKeys[V any](m map[string]V) iter.Seq[string] { return maps.Keys(m) }

func gzipReader(r io.Reader) (*gzip.Reader, error) { return gzip.NewReader(r) }
