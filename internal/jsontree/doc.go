// Package jsontree decodes JSON into a generic tree (Object, []any, string,
// json.Number, bool, nil), encodes it back byte for byte as encoding/json
// would, and diffs two trees into an RFC 6902 patch. It holds no rules:
// the expansion engine (package defaults) edits the trees it decodes here.
//
// It exists for speed: on the admission path encoding/json validated the
// whole input before decoding it and reflected over every map entry when
// encoding (BENCHMARKS.md compares the two). The fuzz targets hold it to
// encoding/json's meaning.
package jsontree
