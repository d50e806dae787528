; tree-sitter-ruby's own reference patterns rely on locals predicates that a plain query cursor does
; not evaluate, so ctxpack uses only its definitions plus these calls.
(call method: (identifier) @name) @reference.call
(superclass (constant) @name) @reference.class
