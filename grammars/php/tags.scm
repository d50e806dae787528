; Added to tree-sitter-php's tags query.
(enum_declaration name: (name) @name) @definition.enum
(named_type (name) @name) @reference.type
(base_clause (name) @name) @reference.class
(scoped_call_expression name: (name) @name) @reference.call
