; TypeScript and TSX: tree-sitter-javascript's tags, then tree-sitter-typescript's, then these.
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.enum
(import_specifier name: (identifier) @name) @reference.import
(member_expression property: (property_identifier) @name) @reference.property
; Constructors, private methods, arrow functions in class fields, namespaces and ambient modules.
(method_definition name: (property_identifier) @name (#eq? @name "constructor")) @definition.method
(method_definition name: (private_property_identifier) @name) @definition.method
(public_field_definition name: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method
(internal_module name: (_) @name) @definition.module
(module name: (_) @name) @definition.module
