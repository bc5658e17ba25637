package access

// MostSpecificPrefix returns the block's URL prefix. Adjacent access
// blocks form one stage in which only the block with the longest prefix
// matching the path decides (see Wrap); httpd explain uses this to show
// that block alone.
func (m *Module) MostSpecificPrefix() string { return m.prefix }
