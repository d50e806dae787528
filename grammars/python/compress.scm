; Function and method bodies, replaced by their docstring and `...` in the compressed view.
(function_definition body: (block) @body)
