; Added to tree-sitter-javascript's tags query.
(import_specifier name: (identifier) @name) @reference.import
(member_expression property: (property_identifier) @name) @reference.property
(class_heritage (identifier) @name) @reference.class
; Constructors (the crate's query leaves them out), private methods, and arrow functions in
; class fields.
(method_definition name: (property_identifier) @name (#eq? @name "constructor")) @definition.method
(method_definition name: (private_property_identifier) @name) @definition.method
(field_definition property: (property_identifier) @name value: [(arrow_function) (function_expression)]) @definition.method
