; Added to tree-sitter-python's tags query, which only knows calls as references.
(attribute attribute: (identifier) @name) @reference.attribute
(type (identifier) @name) @reference.type
(class_definition superclasses: (argument_list (identifier) @name)) @reference.class
(import_from_statement name: (dotted_name (identifier) @name)) @reference.import
(import_statement name: (dotted_name (identifier) @name)) @reference.import
(decorator (identifier) @name) @reference.call
(assignment right: (identifier) @name) @reference.identifier
(argument_list (identifier) @name) @reference.identifier
