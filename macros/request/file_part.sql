{% macro file_part(uri, mime_type=none, required=false) -%}
    {#- A Cloud Storage / https file for request(parts=[...]). Returns a dict, not SQL: request() splices its `sql`, a STRING
        expression rendering {"fileData":{"fileUri":...,"mimeType":...}}, and its `present` condition. A row whose uri is
        NULL simply has no such part (the request stays valid) unless required=true, which makes the request NULL. A uri
        with no known MIME type makes the part, and so the whole request, NULL (Vertex rejects a fileData without one): an
        invalid row, named by the pre-submission check, instead of a request that fails hours later. -#}
    {%- set mime_by_extension = {
        'jpg': 'image/jpeg', 'jpeg': 'image/jpeg', 'png': 'image/png', 'webp': 'image/webp',
        'heic': 'image/heic', 'heif': 'image/heif', 'gif': 'image/gif',
        'mp3': 'audio/mpeg', 'wav': 'audio/wav', 'flac': 'audio/flac', 'aac': 'audio/aac',
        'ogg': 'audio/ogg', 'opus': 'audio/opus', 'm4a': 'audio/m4a',
        'mp4': 'video/mp4', 'mov': 'video/quicktime', 'webm': 'video/webm', 'mpeg': 'video/mpeg',
        'mpg': 'video/mpeg', 'avi': 'video/avi', 'flv': 'video/x-flv', 'wmv': 'video/wmv', '3gp': 'video/3gpp',
        'pdf': 'application/pdf', 'txt': 'text/plain', 'csv': 'text/csv', 'html': 'text/html', 'htm': 'text/html',
    } -%}
    {#- The extension of the last path segment, ignoring a ?query or #fragment (signed https URLs). -#}
    {%- set when_clauses = [] -%}
    {%- for extension, inferred in mime_by_extension | dictsort -%}
        {%- do when_clauses.append("when '" ~ extension ~ "' then '" ~ inferred ~ "'") -%}
    {%- endfor -%}
    {%- set inferred_mime_type = "case regexp_extract(lower(" ~ uri ~ "), r'\\.([a-z0-9]+)(?:[?#].*)?$')\n                "
        ~ when_clauses | join('\n                ') ~ "\n            end" -%}
    {%- if mime_type is none -%}
        {%- set mime_type_sql = inferred_mime_type -%}
    {%- else -%}
        {#- An explicit MIME type wins; rows where it is NULL fall back to the extension. -#}
        {%- set mime_type_sql = 'coalesce(' ~ mime_type ~ ', ' ~ inferred_mime_type ~ ')' -%}
    {%- endif -%}
    {%- set part_sql -%}
        concat(
            '{"fileData":{"fileUri":',
            {{ gemini_batch._json_string(uri) }},
            ',"mimeType":',
            {{ gemini_batch._json_string(mime_type_sql) }},
            '}}'
        )
    {%- endset -%}
    {{- return({'gemini_batch_part': 'fileData', 'sql': part_sql, 'present': '(' ~ uri ~ ') is not null', 'required': required}) -}}
{%- endmacro %}
