; Method bodies, replaced by a `# … N lines` comment (the `end` stays).
(method body: (body_statement) @body)
(singleton_method body: (body_statement) @body)
