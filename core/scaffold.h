/* Template scaffolding: a working skeleton to start a new template from. */
#pragma once

/* Writes the template skeleton DIR/NAME: a template.json with a data schema (port) and
 * actions install, start, stop and monitor as POSIX sh scripts that report through fd 3
 * (state, progress) and read their data from DATA_* variables. It loads with
 * zr_template_load and runs as is: start keeps a placeholder process running until stop.
 * DIR is created when missing. 0, or a negative errno with *ret_err (malloc'd): -EINVAL for
 * a bad name, -EEXIST when DIR/NAME exists. All or nothing: a failure leaves no DIR/NAME. */
int zr_scaffold_template(const char *name, const char *dir, char **ret_err);
