; Added to tree-sitter-rust's own tags query.
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(scoped_identifier name: (identifier) @name) @reference.path
(type_identifier) @name @reference.type
(field_expression field: (field_identifier) @name) @reference.field
(use_declaration argument: (scoped_identifier name: (identifier) @name)) @reference.import
(use_list (identifier) @name) @reference.import
; An impl block is listed as a definition of kind `impl` so that its methods get the type as scope.
(impl_item type: (_) @name) @definition.impl
; Required trait methods and foreign functions: signatures without a body.
(function_signature_item name: (identifier) @name) @definition.method
