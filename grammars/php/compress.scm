; Function and method bodies, replaced by `{ /* … N lines */ }`.
(function_definition body: (compound_statement) @body)
(method_declaration body: (compound_statement) @body)
