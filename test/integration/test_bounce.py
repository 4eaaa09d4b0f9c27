"""test_bounce.py - the engine stops and comes back while agentd works
(issue 16): in the middle of an apply, during an image pull, and while a
container's output is followed into /v2/local/logs. agentd must converge
on its own once the engine answers again, with exactly one container per
service, and the log stream must go on without losing or repeating any
line the engine has. (How fast it converges is a figure: test/bench/
bench_bounce.py prints it.)
"""
import re

import lib
from engine import engine
from test_api_routes import LogStream
from test_state_engine import State, app_id, service, target

# numbered lines from a counter kept in a volume, so that the numbers go on
# when the engine restarts the container; TERM ends it between two lines
COUNTER = ("trap 'exit 0' TERM; n=$(cat /data/n 2>/dev/null || echo 0); "
           "while :; do n=$((n+1)); echo $n > /data/n; echo \"line $n\"; sleep 0.05; done")


def bounce(eng, ad, while_down=None):
    """Stop dockerd, let agentd see it gone, start it again."""
    def down():
        ad.wait_log(r"engine connection lost|engine.*lost", 30)
        if while_down:
            while_down()
    eng.restart_dockerd(down)


def three(aid, img, env=None):
    return [service(i + 1, "s%d" % i, img, 100 + i, env=env) for i in range(3)]


def test_an_engine_restart_in_the_middle_of_an_apply_converges_without_duplicates():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        s.apply(target(aid, "c1", 1, three(aid, img)))
        mark = s.ad.mark()
        t2 = target(aid, "c2", 2, three(aid, img, env={"V": "2"}))
        st, body = s.post(t2)
        assert st == 200, (st, body)
        s.ad.wait_log(r"Killing service|Installing service", 30, since=mark)
        bounce(s.eng, s.ad)
        s.wait_applied(t2, 60)
        for name, cs in s.containers().items():
            assert [c["State"]["Running"] for c in cs] == [True], (name, cs)
            assert "V=2" in cs[0]["Config"]["Env"], cs[0]["Config"]["Env"]


def test_an_engine_restart_during_a_pull_converges():
    aid = app_id()
    eng = engine()
    eng.docker("rmi", "-f", eng.image_v2, check=False)
    try:
        with State(aid) as s:
            t = target(aid, "c1", 1, [service(1, "main", eng.image_v2, 7)])
            mark = s.ad.mark()
            st, body = s.post(t)
            assert st == 200, (st, body)
            s.ad.wait_log(r"Downloading image '%s'" % re.escape(eng.image_v2), 30, since=mark)
            bounce(s.eng, s.ad)
            s.wait_applied(t, 90)
            assert s.eng.docker("images", "-q", eng.image_v2), "the image was not pulled"
    finally:
        eng.docker("rmi", "-f", eng.image_v2, check=False)


test_an_engine_restart_during_a_pull_converges.timeout_s = 150


def numbers(lines):
    out = []
    for text in lines:
        m = re.match(r"line (\d+)$", text.strip())
        if m:
            out.append(int(m.group(1)))
    return out


def test_log_following_resumes_after_an_engine_restart_without_losing_or_repeating_lines():
    aid = app_id()
    with State(aid) as s:
        img = s.eng.local_image
        svc = service(1, "counter", img, 9, command=["sh", "-c", COUNTER],
                      volumes=["data:/data"])
        t = target(aid, "c1", 1, [svc], volumes={"data": {}})
        s.apply(t)
        stream = LogStream(s.ad.port)
        try:
            def streamed():
                return numbers(o.get("message", "") for o in stream.objects()
                               if o.get("serviceName") == "counter")
            lib.wait_until(lambda: len(streamed()) >= 10, 30, what="counter lines streamed")
            before = max(streamed())
            bounce(s.eng, s.ad)
            s.wait_applied(t, 60)
            lib.wait_until(lambda: max(streamed()) >= before + 40, 60,
                           what="counter lines after the engine came back")
            got = streamed()
            (cid,) = [c["Id"] for c in s.containers()["counter"]]
            engine_has = numbers(s.eng.docker("logs", cid).splitlines())
            assert len(got) == len(set(got)), "lines repeated: %s" % sorted(
                n for n in set(got) if got.count(n) > 1)[:20]
            window = [n for n in engine_has if got[0] <= n <= got[-1]]
            missing = sorted(set(window) - set(got))
            assert not missing, "lines the engine has were lost: %s" % missing[:20]
            assert got == sorted(got), "lines out of order"
        finally:
            stream.close()


test_log_following_resumes_after_an_engine_restart_without_losing_or_repeating_lines.timeout_s \
    = 150
