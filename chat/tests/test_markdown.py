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


def test_a_clip_offer_links_to_the_clip_form_with_its_range():
    html = render_markdown(
        "Said at 00:21 ([clip 00:21\N{EN DASH}00:26](clip:8c1c7d0e-0000-4000-8000-000000000001/21.40-26.00))."
    )
    assert (
        '<a href="/videos/clips/?video=8c1c7d0e-0000-4000-8000-000000000001&amp;start=21.40&amp;end=26.00"'
        ' class="clip-offer"'
    ) in html
    assert ">clip 00:21\N{EN DASH}00:26</a>" in html  # the times in the offer are its words, not seek links
    assert 'data-seek="21"' in html


def test_a_clip_link_that_names_no_range_goes_nowhere():
    html = render_markdown(
        "[clip](clip:../../admin/) and [also](clip:8c1c7d0e/1-2) and [dashes](clip:------------------------------------/1-2)"
    )
    assert "href" not in html
    assert "clip:" not in html
