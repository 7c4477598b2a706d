package sdp

import "testing"

func TestParseFileSelector(t *testing.T) {
	fs, err := ParseFileSelector(`name:"plan%22v2%22.pdf" type:application/pdf size:48213 hash:sha-1:3A:0F:12:9C`)
	if err != nil {
		t.Fatal(err)
	}
	if fs.Name != `plan"v2".pdf` || fs.Type != "application/pdf" || fs.Size != 48213 || fs.Hash != "sha-1:3A:0F:12:9C" {
		t.Fatalf("%+v", fs)
	}
	if fs, err := ParseFileSelector(`type:image/png`); err != nil || fs.Size != -1 || fs.Name != "" {
		t.Fatalf("%+v %v", fs, err)
	}
	for _, bad := range []string{`name:"open`, `size:-3`, `size:x`, `garbage`} {
		if _, err := ParseFileSelector(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseFileSelector(f *testing.F) {
	f.Add(`name:"a b.png" type:image/png size:10 hash:sha-1:00:11`)
	f.Add(`type:text/plain`)
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseFileSelector(s) })
}

func TestParseFileDate(t *testing.T) {
	tests := []struct {
		in      string
		want    FileDate
		wantErr bool
	}{
		{`modification:"Fri, 10 Jan 2025 09:00:00 +0000"`, FileDate{Modification: "Fri, 10 Jan 2025 09:00:00 +0000"}, false},
		{`creation:"Mon, 6 Jan 2025 08:00:00 +0100" modification:"10 Jan 2025 09:00 -0500" read:"Sat, 11 Jan 2025 10:00:00 GMT"`,
			FileDate{Creation: "Mon, 6 Jan 2025 08:00:00 +0100", Modification: "10 Jan 2025 09:00 -0500", Read: "Sat, 11 Jan 2025 10:00:00 GMT"}, false},
		{`other:"Fri, 10 Jan 2025 09:00:00 +0000"`, FileDate{}, false},
		{`modification:"yesterday"`, FileDate{}, true},
		{`modification:"Fri, 10 Jan 2025 09:00:00 +0000`, FileDate{}, true},
		{`modification:Fri`, FileDate{}, true},
	}
	for _, tt := range tests {
		got, err := ParseFileDate(tt.in)
		if (err != nil) != tt.wantErr || err == nil && got != tt.want {
			t.Errorf("ParseFileDate(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
