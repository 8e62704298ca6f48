"""The one hoc-template parser (bmtool_lab.model.hoc_templates) on real hoc text: two templates in
one file, commented-out templates, names with digits and underscores, a ``//`` inside a string."""

from __future__ import annotations

from bmtool_lab.model.hoc_templates import strip_comments, template_body, template_names, templates_in

TWO_CELLS = """\
// Two interneurons in one file (as bmtk's components/templates often have)
load_file("stdrun.hoc")

begintemplate PV_Cell2
public soma, dend, all
create soma, dend[2]
objref all
proc init() {
    all = new SectionList()
    soma { L = 20  diam = 20  insert pas  insert kdr_pv  all.append() }
    forsec "dend" { L = 100  diam = 1  insert pas  all.append() }  // passive dendrites
    connect dend[0](0), soma(1)
}
endtemplate PV_Cell2

/* the old version, kept for reference:
begintemplate PV_Cell
public soma
create soma
proc init() { soma { insert hh } }
endtemplate PV_Cell
*/

begintemplate L5_PC_1
public soma
create soma
strdef morph
proc init() {
    morph = "morphologies//l5pc.swc"
    soma { L = $1  diam = $1  insert nap_l5 }
}
endtemplate L5_PC_1
// begintemplate Retired   (line comment: no template)
"""


def test_two_templates_in_one_file_and_commented_out_ones_are_not_templates():
    assert template_names(TWO_CELLS) == ["PV_Cell2", "L5_PC_1"]


def test_template_body_is_the_block_of_that_template_only():
    body = template_body(TWO_CELLS, "PV_Cell2")
    assert body is not None and "insert kdr_pv" in body and "nap_l5" not in body
    assert "passive dendrites" not in body  # comments are dropped
    # a name is matched whole: PV_Cell (commented out) is neither PV_Cell2 nor defined
    assert template_body(TWO_CELLS, "PV_Cell") is None
    assert template_body(TWO_CELLS, "Retired") is None
    l5 = template_body(TWO_CELLS, "L5_PC_1")
    assert l5 is not None and "insert nap_l5" in l5 and "$1" in l5
    assert '"morphologies//l5pc.swc"' in l5  # a // inside a string is no comment


def test_strip_comments_keeps_line_breaks_and_strings():
    text = 'a = 1 /* one\ntwo */ b = 2 // c\ns = "x//y" /* z */'
    out = strip_comments(text)
    assert out.count("\n") == text.count("\n")
    assert out.split("\n") == ["a = 1 ", " b = 2 ", 's = "x//y" ']


def test_templates_in_a_folder_name_their_file_first_by_name(tmp_path):
    (tmp_path / "a_cells.hoc").write_text(TWO_CELLS)
    (tmp_path / "b_more.hoc").write_text("begintemplate L5_PC_1\nendtemplate L5_PC_1\n"
                                         "begintemplate SST_3\nendtemplate SST_3\n")
    (tmp_path / "notes.txt").write_text("begintemplate NotHoc\nendtemplate NotHoc\n")
    found = templates_in(tmp_path)
    assert found == {"PV_Cell2": tmp_path / "a_cells.hoc", "L5_PC_1": tmp_path / "a_cells.hoc",
                     "SST_3": tmp_path / "b_more.hoc"}
    assert templates_in(tmp_path / "empty") == {}
