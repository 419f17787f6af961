# img2col without a feature map: setfmap was never run, so the map is 0 x 0.
  load3d.f16 l0a[x0], l1[x0], x0, kh=3, kw=3
  end
