; Added to tree-sitter-c-sharp's tags query.
(struct_declaration name: (identifier) @name) @definition.class
(enum_declaration name: (identifier) @name) @definition.enum
(record_declaration name: (identifier) @name) @definition.class
(property_declaration name: (identifier) @name) @definition.property
(constructor_declaration name: (identifier) @name) @definition.method
