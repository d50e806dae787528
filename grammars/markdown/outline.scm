; Headings, for the outline of a Markdown file.
(atx_heading) @heading
(setext_heading) @heading
