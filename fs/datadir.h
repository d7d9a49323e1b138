/* Where the robot finds the files installed beside it (the built-in templates). */
#pragma once

/* The folder of the built-in templates: the source tree's for a binary still in the build tree;
 * PREFIX/DATADIR/zrobot/templates beside an installed binary, found from the binary's own folder
 * (so a copy installed with DESTDIR or moved with its prefix finds its own), else the
 * configured absolute path. malloc'd; NULL when out of memory. */
char *zr_datadir_templates(void);
