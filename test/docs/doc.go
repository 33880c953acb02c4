// Package docs checks that the repository's Markdown files point at things
// that exist. TestRepositoryDocs runs the check on every *.md file of the
// repository (under `go test ./...`), skipping hidden directories, vendor,
// testdata, node_modules and the build outputs the root .gitignore names
// (anchored entries such as /bin/).
//
// Two kinds of reference are checked.
//
// Links. Every inline Markdown link or image `[text](target)` and every
// reference definition `[label]: target` outside code spans and fenced code
// blocks, whose target has no URL scheme, must name an existing file or
// directory, relative to the Markdown file (a target starting with "/" is
// relative to the repository root). A `#fragment` on a link to a Markdown
// file (or a bare `#fragment`, meaning the same file) must be the anchor
// GitHub generates for one of its headings: the heading's text lowercased,
// every character that is not a letter, a digit, '-', '_' or a space
// removed, spaces turned into '-', and "-1", "-2", ... appended to repeated
// headings; explicit `<a name="...">` and `id="..."` anchors count too.
//
// Repository paths. A slash-separated word anywhere in the text (prose,
// code spans and fenced code blocks) is a repository path when its first
// segment, after an optional "./", is a top-level directory of this
// repository (api/, cmd/, scaler/, charts/, hack/, ...): it must exist,
// relative to the repository root or to the Markdown file's directory
// ("../x" only relative to the file). Glob patterns (`err-*.yaml`) must
// match at least one file. In prose outside code spans a word counts only
// when it looks like a file path (it starts with "./", its last segment has
// an extension, it ends in "/", it has three or more segments, or it holds
// a '*'), so that
// phrases like "webhook/scaler" are left alone. Not checked: absolute paths
// and paths under "~" or "$VAR" (they are paths on a machine or in a
// container), words that are part of a URL, and templated paths (followed
// by '<', '{' or '$').
//
// Upstream paths. Paths of other repositories (Ray's python/ray/...,
// src/ray/..., KubeRay's ray-operator/..., Kubernetes' pkg/...) start with a
// segment that is no top-level directory here, so they are never checked.
// Where an upstream path happens to start with one of this repository's
// top-level names (KubeRay's docs/ or hack/, Kubernetes' cmd/ or test/), it
// is recognised by the text before it on the same line: a missing path is
// not reported when the 80 bytes before it contain one of "Ray's",
// "KubeRay", "ray:", "ray-project/", "Kubernetes'", "kubernetes:" or
// "upstream" (case-insensitive). The price is that a broken path of this
// repository written right after such a word is not found.
package docs
