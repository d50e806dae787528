; Function, method and arrow-function block bodies, replaced by `{ /* … N lines */ }`.
(function_declaration body: (statement_block) @body)
(function_expression body: (statement_block) @body)
(generator_function_declaration body: (statement_block) @body)
(generator_function body: (statement_block) @body)
(arrow_function body: (statement_block) @body)
(method_definition body: (statement_block) @body)
