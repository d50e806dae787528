; ctxpack's own tags for C++: tree-sitter-cpp's query marks function declarators (one line), counts
; declarations inside bodies (`std::lock_guard<std::mutex> lock(m);` looks like a function), misses
; nested qualified names, and has no references.
(function_definition
  declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(function_definition
  declarator: (function_declarator declarator: (field_identifier) @name)) @definition.method
; Out-of-class members (`Widget::run`, `ns::Widget::~Widget`, `Widget::operator==`), also when
; they return a pointer or a reference.
(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        name: [(identifier) (destructor_name) (operator_name) (template_function)] @name))
    (function_declarator
      declarator: (qualified_identifier
        name: (qualified_identifier
          name: [(identifier) (destructor_name) (operator_name) (template_function)] @name)))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier
          name: [(identifier) (destructor_name) (operator_name) (template_function)] @name)))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier
          name: (qualified_identifier
            name: [(identifier) (destructor_name) (operator_name) (template_function)] @name))))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier
          name: [(identifier) (destructor_name) (operator_name) (template_function)] @name)))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier
          name: (qualified_identifier
            name: [(identifier) (destructor_name) (operator_name) (template_function)] @name))))
  ]) @definition.method
(function_definition
  declarator: (function_declarator declarator: (destructor_name) @name)) @definition.method
; An explicit specialisation: `template <> int zero<int>() { … }`.
(function_definition
  declarator: (function_declarator declarator: (template_function) @name)) @definition.function
; A function that returns a function pointer: `void (*handler(int sig))(int) { … }`.
(function_definition
  declarator: (function_declarator
    declarator: (parenthesized_declarator
      (pointer_declarator
        declarator: (function_declarator declarator: (identifier) @name))))) @definition.function
; Functions returning a reference or a pointer, free operators (`std::ostream& operator<<(…)`)
; and explicit specialisations (`template <> T* make<int>()`) among them.
(function_definition
  declarator: (reference_declarator
    (function_declarator
      declarator: [(identifier) (field_identifier) (operator_name) (template_function)] @name))) @definition.function
(function_definition
  declarator: (pointer_declarator
    declarator: (function_declarator
      declarator: [(identifier) (field_identifier) (operator_name) (template_function)] @name))) @definition.function
; Member declarations in a class body: `void run();`, `Widget *self();`, `const T &get() const;`,
; and constructors and destructors (`Widget();`, `~Widget();`).
(field_declaration
  declarator: [
    (function_declarator declarator: (field_identifier) @name)
    (pointer_declarator
      declarator: (function_declarator declarator: [(field_identifier) (operator_name)] @name))
    (reference_declarator
      (function_declarator declarator: [(field_identifier) (operator_name)] @name))
  ]) @definition.method
(field_declaration_list
  (declaration
    declarator: (function_declarator
      declarator: [(identifier) (destructor_name)] @name)) @definition.method)
(translation_unit
  (declaration declarator: (function_declarator declarator: (identifier) @name)) @definition.function)
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(struct_specifier name: (type_identifier) @name body: (_)) @definition.class
(union_specifier name: (type_identifier) @name body: (_)) @definition.class
(enum_specifier name: (type_identifier) @name body: (_)) @definition.type
(type_definition declarator: (type_identifier) @name) @definition.type
(alias_declaration name: (type_identifier) @name) @definition.type
(namespace_definition name: (namespace_identifier) @name) @definition.module
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro

(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression field: (field_identifier) @name)) @reference.call
(call_expression function: (qualified_identifier name: (identifier) @name)) @reference.call
(type_identifier) @name @reference.type
(namespace_identifier) @name @reference.namespace
(function_definition
  declarator: (function_declarator declarator: (operator_name) @name)) @definition.method
(field_declaration
  declarator: (function_declarator declarator: (operator_name) @name)) @definition.method
