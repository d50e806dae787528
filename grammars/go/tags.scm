; Added to tree-sitter-go's tags query.
(const_spec name: (identifier) @name) @definition.constant
(selector_expression field: (field_identifier) @name) @reference.field
(var_spec name: (identifier) @name) @definition.variable
(method_elem name: (field_identifier) @name) @definition.method
