; Added to tree-sitter-javascript's tags query.
(import_specifier name: (identifier) @name) @reference.import
(member_expression property: (property_identifier) @name) @reference.property
(class_heritage (identifier) @name) @reference.class
