; Method, constructor, accessor and local-function bodies, replaced by `{ /* … N lines */ }`.
(method_declaration body: (block) @body)
(constructor_declaration body: (block) @body)
(destructor_declaration body: (block) @body)
(accessor_declaration body: (block) @body)
(local_function_statement body: (block) @body)
(operator_declaration body: (block) @body)
