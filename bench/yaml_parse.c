/*
 * yaml_parse.c: the baseline of the render workload. It parses a trace file
 * with libyaml's event API and does nothing else: no model, no Mermaid, no
 * output beyond one count. `loopmaid render` must do at least this much work
 * on the same file, so "render time / parse time" says how much the
 * renderers add on top of the unavoidable YAML scan.
 *
 *     yaml_parse FILE      prints: workload=parse n=EVENTS seconds=S rss_kib=R ...
 *
 * The file is read through a FILE* with libyaml's own buffering, as the
 * reader in render/ does. Exits 1 with file:line:col: what on a YAML error.
 */
#include "bench_util.h"

#include <yaml.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: yaml_parse FILE\n");
        return 2;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (fp == NULL) {
        perror(argv[1]);
        return 1;
    }
    long base = bench_rss_kib();
    double c0 = bench_cpu();
    double t0 = bench_now();
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fprintf(stderr, "yaml_parse: out of memory\n");
        return 1;
    }
    yaml_parser_set_input_file(&parser, fp);
    long events = 0;
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            fprintf(stderr, "%s:%zu:%zu: %s\n", argv[1],
                    parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                    parser.problem ? parser.problem : "YAML error");
            rc = 1;
            break;
        }
        yaml_event_type_t type = ev.type;
        yaml_event_delete(&ev);
        events++;
        if (type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    double t1 = bench_now();
    double c1 = bench_cpu();
    fclose(fp);
    if (rc == 0)
        bench_report("parse", events, t1 - t0, c1 - c0, base, -1);
    return rc;
}
