; TypeScript and TSX: tree-sitter-javascript's tags, then tree-sitter-typescript's, then these.
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(import_specifier name: (identifier) @name) @reference.import
(member_expression property: (property_identifier) @name) @reference.property
