; Method, constructor and lambda block bodies, replaced by `{ /* … N lines */ }`.
(method_declaration body: (block) @body)
(constructor_declaration body: (constructor_body) @body)
(lambda_expression body: (block) @body)
