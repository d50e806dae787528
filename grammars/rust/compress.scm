; Function and method bodies, replaced by `{ /* … N lines */ }` in the compressed view.
(function_item body: (block) @body)
