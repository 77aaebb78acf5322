from chat.markdown import render_markdown


def test_it_escapes_raw_html():
    html = render_markdown('Hello <script>alert("x")</script> <img src=x onerror=alert(1)>')
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html


def test_it_drops_javascript_links():
    html = render_markdown("[click me](javascript:alert(1)) and [ok](https://example.com)")
    assert "javascript:" not in html.replace("[click me](javascript:alert(1))", "")
    assert 'href="javascript' not in html
    assert '<a href="https://example.com"' in html


def test_it_turns_times_into_seek_links():
    html = render_markdown("Cuts at 00:12, 01:01 and 1:02:03.")
    assert '<a class="seek" href="#t=12" data-seek="12"' in html
    assert 'data-seek="61"' in html
    assert 'data-seek="3723"' in html


def test_it_leaves_code_and_non_times_alone():
    html = render_markdown("`00:12` is code; 12:345 and 1:2 are not times; 99:99 neither.")
    assert "seek" not in html
