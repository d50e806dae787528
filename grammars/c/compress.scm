; Function bodies, replaced by `{ /* … N lines */ }`.
(function_definition body: (compound_statement) @body)
