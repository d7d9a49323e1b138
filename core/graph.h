/* @robot/graph (DESIGN §8): the robot's services, parents and relations as Graphviz dot text,
 * for `zrobot graph | dot -Tsvg`. */
#pragma once
#include "util/buf.h"

struct zr_robot;

/* Appends the dot text of r's services to b: a node "T/S" per local service (pending ones
 * left out), an edge consumer -> producer labelled with the role for each producer its data
 * names, dashed edges parent -> child, and the producers on other robots as nodes
 * "@remote/R/T/S" in one cluster per robot R. Every id is a quoted dot string. Services come
 * in path order, so the same robot gives the same text. 0, or -ENOMEM (b holds a part). */
int zr_graph_dot(struct zr_robot *r, struct zr_buf *b);
