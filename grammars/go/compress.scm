; Function, method and function-literal bodies, replaced by `{ /* … N lines */ }`.
(function_declaration body: (block) @body)
(method_declaration body: (block) @body)
(func_literal body: (block) @body)
